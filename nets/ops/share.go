package ops

import (
	"fmt"
	"reflect"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Output memory shared by liveness.
//
// Gorgonia's tape machine binds every node's value to the node for the life
// of the machine, and our ops keep their outputs between runs (opBufs), so a
// compiled graph held one buffer per node: every activation and every
// gradient of a training step at once, and a GAN as many such sets as it has
// graphs. Most of those values are dead long before the run ends (a weight
// gradient is added into the parameter's gradient as soon as it is
// computed; an activation is last read by its gradient). Arena.Plan
// assigns the outputs of our ops to slots of shared memory so that two
// values share a slot only when their lifetimes in the tape's execution
// order do not overlap; the graphs of one model run one at a time, so they
// all draw on the same slots (each run starts with every slot free).
// Nothing computed changes, only where it is written: every kernel
// overwrites its whole output.
//
// Gorgonia has no such planner (its register allocator gives every node a
// register of its own here, and its values are not ours to place), hence
// this one.

// slot is one shared block of memory, sized to the largest value planned
// into it.
type slot struct {
	dt   tensor.Dtype
	size int // elements
	data any // []float32 or []float64 of len size, allocated on first use
	gen  int // bumped when data is replaced, so views built over old data are rebuilt
	busy int // the last instruction of the current occupant, while planning
}

// view returns b's output as a tensor of dt and shape over s's memory.
func (s *slot) view(b *opBufs, dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	n := shape.TotalSize()
	if n > s.size || dt != s.dt {
		// not what was planned (a bug); a buffer of its own is always safe
		b.slot = nil
		return b.output(dt, shape)
	}
	switch d := s.data.(type) {
	case []float32:
		if len(d) < s.size {
			s.data = nil
		}
	case []float64:
		if len(d) < s.size {
			s.data = nil
		}
	}
	if s.data == nil {
		if dt == tensor.Float64 {
			s.data = make([]float64, s.size)
		} else {
			s.data = make([]float32, s.size)
		}
		s.gen++
	}
	if b.out != nil && b.gen == s.gen && b.out.Shape().Eq(shape) {
		return b.out
	}
	var back any
	switch d := s.data.(type) {
	case []float32:
		back = d[:n:n]
	case []float64:
		back = d[:n:n]
	}
	b.out = tensor.New(tensor.WithBacking(back), tensor.WithShape(shape...))
	b.gen = s.gen
	return b.out
}

// Arena is the shared output memory of the graphs of one model. They must
// run one at a time (a Model is not safe for concurrent use), and only the
// values Plan keeps may be read after a run.
type Arena struct {
	slots []*slot
}

// buffered is an op that writes its output through opBufs.
type buffered interface{ buffers() *opBufs }

// Plan shares the output memory of vm's ops (vm compiled from g) through
// the arena. Kept out of sharing, so that their values stay readable
// after a run: keep, every node nothing in g reads (an output) except
// gradients of variables (the machine adds those into the variable's
// gradient as soon as they are computed), and any value another node may
// alias (an op that returns a view or overwrites its input, or two nodes
// that Gorgonia put in one register).
func (a *Arena) Plan(vm G.VM, g *G.ExprGraph, keep ...*G.Node) error {
	sorted, err := G.Sort(g)
	if err != nil {
		return fmt.Errorf("sharing buffers: %w", err)
	}
	// Compile runs the nodes in reverse topological order.
	for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
		sorted[i], sorted[j] = sorted[j], sorted[i]
	}
	regs, err := registers(vm)
	if err != nil {
		return err
	}
	// Values that may be one memory form a group that lives from its first
	// write to its last read: nodes Gorgonia put in one register (an op it
	// runs in place on its input writes to the input's register; a node
	// merged with an equal one reads the other's) and a view with what it
	// views (an op that says it returns a pointer, except Gorgonia's
	// arithmetic, which says so but writes a new tensor unless run in
	// place, in which case it shares its input's register).
	group := make(map[*G.Node]*G.Node, len(sorted))
	var find func(n *G.Node) *G.Node
	find = func(n *G.Node) *G.Node {
		r, ok := group[n]
		if !ok || r == n {
			return n
		}
		r = find(r)
		group[n] = r
		return r
	}
	union := func(a, b *G.Node) {
		if ra, rb := find(a), find(b); ra != rb {
			group[ra] = rb
		}
	}
	byReg := map[string]*G.Node{}
	pinned := map[*G.Node]bool{}
	for _, n := range keep {
		pinned[n] = true
	}
	first := make(map[*G.Node]int, len(sorted))
	last := make(map[*G.Node]int, len(sorted))
	for i, n := range sorted {
		group[n] = n
		first[n], last[n] = i, i
		r, ok := regs[n]
		if !ok {
			pinned[n] = true // not run by the machine as a node of its own
			continue
		}
		if o, ok := byReg[r]; ok {
			union(n, o)
		}
		byReg[r] = n
	}
	for i, n := range sorted {
		kids := children(g, n)
		for _, c := range kids {
			last[c] = max(last[c], i)
		}
		op := n.Op()
		if op == nil {
			continue
		}
		if op.ReturnsPtr() && !allocates[fmt.Sprintf("%T", op)] {
			for _, c := range kids {
				union(n, c)
			}
		}
		if g.To(n.ID()).Len() == 0 && len(n.DerivOf()) == 0 {
			pinned[n] = true // an output, read after the run
		}
	}
	type span struct {
		first, last int
		pinned      bool
		owners      []*G.Node // members whose op writes through opBufs
	}
	spans := map[*G.Node]*span{}
	for _, n := range sorted {
		r := find(n)
		sp := spans[r]
		if sp == nil {
			sp = &span{first: first[n], last: last[n]}
			spans[r] = sp
		}
		sp.first, sp.last = min(sp.first, first[n]), max(sp.last, last[n])
		sp.pinned = sp.pinned || pinned[n]
		if op, ok := n.Op().(buffered); ok && op.buffers() != nil {
			sp.owners = append(sp.owners, n)
		}
	}
	for _, s := range a.slots {
		s.busy = -1
	}
	// groups in the order they start; a group with several of our ops in
	// it (never seen: Gorgonia gives each node a register of its own) keeps
	// their buffers apart
	var order []*span
	for _, n := range sorted {
		if sp := spans[find(n)]; sp.first == first[n] && len(sp.owners) == 1 && !sp.pinned {
			order = append(order, sp)
		}
	}
	for _, sp := range order {
		n := sp.owners[0]
		dt := n.Dtype()
		if n.Shape() == nil || (dt != tensor.Float32 && dt != tensor.Float64) {
			continue
		}
		s := a.take(dt, n.Shape().TotalSize(), sp.first)
		s.busy = sp.last
		n.Op().(buffered).buffers().slot = s
	}
	return nil
}

// allocates are Gorgonia's ops that report ReturnsPtr (they may run in
// place) but, run as they are here, return a new tensor: elementwise
// arithmetic, matrix products and reductions.
var allocates = map[string]bool{
	"gorgonia.elemBinOp": true, "gorgonia.elemUnaryOp": true, "gorgonia.linAlgBinOp": true,
	"gorgonia.sumOp": true, "gorgonia.maxOp": true, "gorgonia.tensordotOp": true,
}

// take picks a slot free at instruction at for size elements of dt: the
// smallest free one that fits, else the largest free one (grown), else a
// new one.
func (a *Arena) take(dt tensor.Dtype, size, at int) *slot {
	var fit, big *slot
	for _, s := range a.slots {
		if s.dt != dt || s.busy >= at {
			continue
		}
		if s.size >= size && (fit == nil || s.size < fit.size) {
			fit = s
		}
		if big == nil || s.size > big.size {
			big = s
		}
	}
	switch {
	case fit != nil:
		return fit
	case big != nil:
		big.size = size // view reallocates on next use
		return big
	}
	s := &slot{dt: dt, size: size, busy: -1}
	a.slots = append(a.slots, s)
	return s
}

// Bytes is the memory the arena's slots are planned to hold.
func (a *Arena) Bytes() int {
	var b int
	for _, s := range a.slots {
		b += s.size * int(s.dt.Size())
	}
	return b
}

// registers are the machine's registers by node, as names ("CPU12").
// Gorgonia's tape machine has LocMap but its register type is unexported,
// so it is called by reflection and the register printed.
func registers(vm G.VM) (map[*G.Node]string, error) {
	m := reflect.ValueOf(vm).MethodByName("LocMap")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 || m.Type().Out(0).Kind() != reflect.Map {
		return nil, fmt.Errorf("sharing buffers: %T has no LocMap", vm)
	}
	lm := m.Call(nil)[0]
	out := make(map[*G.Node]string, lm.Len())
	for it := lm.MapRange(); it.Next(); {
		n, ok := it.Key().Interface().(*G.Node)
		if !ok {
			return nil, fmt.Errorf("sharing buffers: LocMap keys are %v", it.Key().Type())
		}
		out[n] = fmt.Sprint(it.Value().Interface())
	}
	return out, nil
}
