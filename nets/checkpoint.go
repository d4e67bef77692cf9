package nets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"sort"

	"gorgonia.org/tensor"
)

// Checkpoint file layout (little-endian):
//
//	magic "xraylab-ckpt\n" | version u32 | body length u64 | body | SHA-256(body)
//
// The body holds the model name, its config, the epoch and optimiser step,
// then named tensors (weights, Adam moments, BatchNorm running statistics).
const (
	ckptMagic   = "xraylab-ckpt\n"
	ckptVersion = 2
	// no sane model has a bigger state; guards allocation on a corrupt header
	ckptMaxBody = 1 << 36
)

// Checkpoint is a decoded checkpoint file.
type Checkpoint struct {
	Model string
	Size  int
	TopK  []int
	// TopKFrac are the shares of the top-k-share scores (version 2; a
	// version 1 file has none).
	TopKFrac []float64
	Params   map[string]float64
	Epoch    int
	Step     int
	Tensors  []NamedTensor
}

// NamedTensor is one tensor of a checkpoint.
type NamedTensor struct {
	Name  string
	Shape tensor.Shape
	Data  any // []float32 or []float64
}

// Tensor finds a tensor by name.
func (c *Checkpoint) Tensor(name string) (NamedTensor, bool) {
	for _, t := range c.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return NamedTensor{}, false
}

// restorer is implemented by models whose state is a checkpoint (Base).
type restorer interface {
	restore(*Checkpoint) error
}

// LoadModel rebuilds a model from a checkpoint written by its Save: the
// model kind and config come from the file; rnd seeds whatever the model
// draws later (noise, sampling).
func LoadModel(r io.Reader, rnd *rand.Rand) (Model, error) {
	ck, err := ReadCheckpoint(r)
	if err != nil {
		return nil, err
	}
	m, err := New(ck.Model, Config{Size: ck.Size, TopK: ck.TopK, TopKFrac: ck.TopKFrac, Params: ck.Params, Rand: rnd})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	rs, ok := m.(restorer)
	if !ok {
		return nil, fmt.Errorf("checkpoint: model %s does not use the checkpoint format", ck.Model)
	}
	if err := rs.restore(ck); err != nil {
		return nil, err
	}
	return m, nil
}

// WriteCheckpoint writes c in the checkpoint file format.
func WriteCheckpoint(w io.Writer, c *Checkpoint) error {
	var e enc
	e.str(c.Model)
	e.i64(int64(c.Size))
	e.i64(int64(len(c.TopK)))
	for _, k := range c.TopK {
		e.i64(int64(k))
	}
	e.i64(int64(len(c.TopKFrac)))
	for _, f := range c.TopKFrac {
		e.u64(math.Float64bits(f))
	}
	names := make([]string, 0, len(c.Params))
	for n := range c.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	e.i64(int64(len(names)))
	for _, n := range names {
		e.str(n)
		e.u64(math.Float64bits(c.Params[n]))
	}
	e.i64(int64(c.Epoch))
	e.i64(int64(c.Step))
	e.i64(int64(len(c.Tensors)))
	for _, t := range c.Tensors {
		e.str(t.Name)
		e.i64(int64(len(t.Shape)))
		for _, d := range t.Shape {
			e.i64(int64(d))
		}
		switch d := t.Data.(type) {
		case []float32:
			e.buf.WriteByte(1)
			for _, v := range d {
				e.u32(math.Float32bits(v))
			}
		case []float64:
			e.buf.WriteByte(2)
			for _, v := range d {
				e.u64(math.Float64bits(v))
			}
		default:
			return fmt.Errorf("checkpoint: tensor %s has unsupported data %T", t.Name, t.Data)
		}
	}
	body := e.buf.Bytes()
	sum := sha256.Sum256(body)
	var head bytes.Buffer
	head.WriteString(ckptMagic)
	binary.Write(&head, binary.LittleEndian, uint32(ckptVersion))
	binary.Write(&head, binary.LittleEndian, uint64(len(body)))
	for _, part := range [][]byte{head.Bytes(), body, sum[:]} {
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("checkpoint: write: %w", err)
		}
	}
	return nil
}

// ReadCheckpoint decodes and verifies a checkpoint file.
func ReadCheckpoint(r io.Reader) (*Checkpoint, error) {
	head := make([]byte, len(ckptMagic)+12)
	n, err := io.ReadFull(r, head)
	if n < len(ckptMagic) || string(head[:len(ckptMagic)]) != ckptMagic {
		return nil, errors.New("checkpoint: not an xraylab model checkpoint (bad magic)")
	}
	if err != nil {
		return nil, errors.New("checkpoint: truncated inside the header")
	}
	version := binary.LittleEndian.Uint32(head[len(ckptMagic):])
	if version != ckptVersion && version != 1 {
		return nil, fmt.Errorf("checkpoint: format version %d, this build reads versions 1 and %d", version, ckptVersion)
	}
	bodyLen := binary.LittleEndian.Uint64(head[len(ckptMagic)+4:])
	if bodyLen > ckptMaxBody {
		return nil, fmt.Errorf("checkpoint: header announces an implausible body of %d bytes", bodyLen)
	}
	rest, err := io.ReadAll(io.LimitReader(r, int64(bodyLen)+sha256.Size+1))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read: %w", err)
	}
	if uint64(len(rest)) < bodyLen+sha256.Size {
		return nil, fmt.Errorf("checkpoint: truncated: %d bytes after the header, expected %d", len(rest), bodyLen+sha256.Size)
	}
	if uint64(len(rest)) > bodyLen+sha256.Size {
		return nil, errors.New("checkpoint: trailing data after the checksum")
	}
	body, sum := rest[:bodyLen], rest[bodyLen:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checkpoint: checksum mismatch, the file is corrupted")
	}
	d := dec{b: body}
	c := &Checkpoint{Params: map[string]float64{}}
	c.Model = d.str("model name")
	c.Size = int(d.i64("image size"))
	nk := d.count("top-k count", 8)
	for i := 0; i < nk; i++ {
		c.TopK = append(c.TopK, int(d.i64("top-k")))
	}
	if version >= 2 {
		nf := d.count("top-k share count", 8)
		for i := 0; i < nf; i++ {
			c.TopKFrac = append(c.TopKFrac, math.Float64frombits(d.u64("top-k share")))
		}
	}
	np := d.count("parameter count", 16)
	for i := 0; i < np; i++ {
		name := d.str("parameter name")
		c.Params[name] = math.Float64frombits(d.u64("parameter " + name))
	}
	c.Epoch = int(d.i64("epoch"))
	c.Step = int(d.i64("optimiser step"))
	nt := d.count("tensor count", 8)
	for i := 0; i < nt && d.err == nil; i++ {
		t := NamedTensor{Name: d.str("tensor name")}
		dims := d.count("rank of "+t.Name, 8)
		size := 1
		for j := 0; j < dims; j++ {
			s := int(d.i64("shape of " + t.Name))
			if s <= 0 || s > len(body) {
				d.fail(fmt.Sprintf("tensor %s has invalid dimension %d", t.Name, s))
			}
			t.Shape = append(t.Shape, s)
			size *= s
		}
		switch d.byte("dtype of " + t.Name) {
		case 1:
			v := make([]float32, d.room(size, 4, t.Name))
			for j := range v {
				v[j] = math.Float32frombits(d.u32(t.Name))
			}
			t.Data = v
		case 2:
			v := make([]float64, d.room(size, 8, t.Name))
			for j := range v {
				v[j] = math.Float64frombits(d.u64(t.Name))
			}
			t.Data = v
		default:
			d.fail("unknown dtype of " + t.Name)
		}
		c.Tensors = append(c.Tensors, t)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d unread bytes at the end of the body", len(d.b)))
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

type enc struct{ buf bytes.Buffer }

func (e *enc) u32(v uint32) { e.buf.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *enc) u64(v uint64) { e.buf.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }
func (e *enc) str(s string) { e.i64(int64(len(s))); e.buf.WriteString(s) }

// dec reads a checksummed body; a malformed one can only come from a bug
// in a writer, but it still fails with an error rather than a panic.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("checkpoint: malformed body: %s", what)
	}
	d.b = nil
}

func (d *dec) take(n int, what string) []byte {
	if d.err != nil {
		return make([]byte, n)
	}
	if n < 0 || n > len(d.b) {
		d.fail("ends inside " + what)
		return make([]byte, max(n, 0))
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *dec) byte(what string) byte  { return d.take(1, what)[0] }
func (d *dec) u32(what string) uint32 { return binary.LittleEndian.Uint32(d.take(4, what)) }
func (d *dec) u64(what string) uint64 { return binary.LittleEndian.Uint64(d.take(8, what)) }
func (d *dec) i64(what string) int64  { return int64(d.u64(what)) }

// count reads a length whose items take at least minBytes each.
func (d *dec) count(what string, minBytes int) int {
	n := d.i64(what)
	if n < 0 || n > int64(len(d.b)/minBytes) {
		d.fail(fmt.Sprintf("%s %d does not fit the body", what, n))
		return 0
	}
	return int(n)
}

// room returns n when n elements of the given width remain, else fails.
func (d *dec) room(n, width int, what string) int {
	if d.err != nil || n > len(d.b)/width {
		d.fail("ends inside " + what)
		return 0
	}
	return n
}

func (d *dec) str(what string) string {
	n := d.count(what, 1)
	return string(d.take(n, what))
}

// StateEntry pairs a checkpoint tensor name with the model tensor it
// saves and restores.
type StateEntry struct {
	Name string
	T    *tensor.Dense
}

// StateEntries lists a network's state under stable names: parameters,
// Adam moments and BatchNorm running statistics.
func StateEntries(ps *ParamSet, opt *Adam, stats []*BNStats) []StateEntry {
	var out []StateEntry
	for i, n := range ps.Names {
		out = append(out, StateEntry{"param/" + n, ps.Vals[i]},
			StateEntry{"adam.m/" + n, opt.M[i]}, StateEntry{"adam.v/" + n, opt.V[i]})
	}
	for _, s := range stats {
		out = append(out, StateEntry{"bn.mean/" + s.Name, s.Mean}, StateEntry{"bn.var/" + s.Name, s.Variance})
	}
	return out
}

// entryTensors turns state entries into checkpoint tensors (sharing data).
func entryTensors(es []StateEntry) []NamedTensor {
	out := make([]NamedTensor, len(es))
	for i, e := range es {
		out[i] = NamedTensor{Name: e.Name, Shape: e.T.Shape().Clone(), Data: e.T.Data()}
	}
	return out
}

// restoreEntries validates every entry against the checkpoint before
// copying any, so a bad checkpoint leaves the model as it was; the
// checkpoint must hold exactly these tensors.
func restoreEntries(c *Checkpoint, es []StateEntry) error {
	srcs := make([]NamedTensor, len(es))
	for i, e := range es {
		name, dst := e.Name, e.T
		t, ok := c.Tensor(name)
		if !ok {
			return fmt.Errorf("checkpoint: tensor %s is missing", name)
		}
		if !t.Shape.Eq(dst.Shape()) {
			return fmt.Errorf("checkpoint: tensor %s has shape %v, the model has %v", name, t.Shape, dst.Shape())
		}
		switch t.Data.(type) {
		case []float32:
			if dst.Dtype() != tensor.Float32 {
				return fmt.Errorf("checkpoint: tensor %s is float32, the model uses %v", name, dst.Dtype())
			}
		case []float64:
			if dst.Dtype() != tensor.Float64 {
				return fmt.Errorf("checkpoint: tensor %s is float64, the model uses %v", name, dst.Dtype())
			}
		}
		srcs[i] = t
	}
	if len(srcs) != len(c.Tensors) {
		return fmt.Errorf("checkpoint: holds %d tensors, the model has %d", len(c.Tensors), len(srcs))
	}
	if c.Step < 0 {
		return fmt.Errorf("checkpoint: negative optimiser step %d", c.Step)
	}
	for i, e := range es {
		switch d := e.T.Data().(type) {
		case []float32:
			copy(d, srcs[i].Data.([]float32))
		case []float64:
			copy(d, srcs[i].Data.([]float64))
		}
	}
	return nil
}
