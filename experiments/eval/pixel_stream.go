package eval

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// PixelStream computes pixel ROC-AUC and AUPRO over the in-mask pixels of
// any number of anomaly maps, exactly and in bounded memory. Add keys each
// in-mask pixel by its map value (descending) and its truth region (0 =
// normal) into a buffer; a full buffer is radix-sorted and spilled to an
// unlinked temporary file as a sorted run; Compute merges the runs in one
// pass over all pixels from the highest value down. Memory: the buffer
// (16 bytes a pixel of chunk, with its sort scratch), 64 KiB per spilled
// run and 8 bytes per truth region.
type PixelStream struct {
	w, h    int
	label   Labeler // nil: ROC-AUC only; every anomalous pixel is region 1
	dir     string  // folder of the spill files; "" = os.TempDir()
	chunk   int     // pixels buffered before a spill
	buf     []uint64
	runs    []*os.File
	size    []int64 // in-mask pixels of region r+1
	neg     int64   // in-mask normal pixels
	pos     int64   // in-mask anomalous pixels
	images  int
	err     error // the first failure of Add; Compute returns it
	spilled bool
}

// defaultPixelChunk is 2 Mi pixels: 32 MiB with the sort's scratch.
const defaultPixelChunk = 1 << 21

// NewPixelStream starts a stream of w×h maps whose regions label finds
// (nil: ROC-AUC only, and any map size). Spill files go to dir ("" = the
// system's temporary folder) and are gone when the stream is closed or the
// process ends.
func NewPixelStream(w, h int, label Labeler, dir string) *PixelStream {
	return &PixelStream{w: w, h: h, label: label, dir: dir, chunk: defaultPixelChunk}
}

// Images is the number of maps added.
func (s *PixelStream) Images() int { return s.images }

// Add adds one image's anomaly map with its truth and loss mask (nil: every
// pixel counts); the slices are not kept.
func (s *PixelStream) Add(m, truth, mask []float32) error {
	if s.err != nil {
		return s.err
	}
	i := s.images
	if s.label != nil && len(m) != s.w*s.h {
		return invalidf("anomaly map %d has %d pixels; want %d×%d = %d", i, len(m), s.w, s.h, s.w*s.h)
	}
	if len(truth) != len(m) {
		return invalidf("anomaly map %d has %d pixels but its truth mask %d", i, len(m), len(truth))
	}
	if mask != nil && len(mask) != len(m) {
		return invalidf("anomaly map %d has %d pixels but its loss mask %d", i, len(m), len(mask))
	}
	for j, v := range m {
		if v != v {
			if s.label != nil {
				return invalidf("anomaly map %d is NaN at pixel %d (x=%d, y=%d)", i, j, j%s.w, j/s.w)
			}
			return invalidf("anomaly map %d is NaN at pixel %d", i, j)
		}
	}
	var labels []int32
	base := int64(len(s.size))
	if s.label != nil {
		lab, n, err := s.label(truth, mask, s.w, s.h)
		if err != nil {
			s.err = fmt.Errorf("image %d: %w", i, err)
			return s.err
		}
		if base+int64(n) >= math.MaxUint32 {
			s.err = invalidf("more than %d truth regions", math.MaxUint32-1)
			return s.err
		}
		labels = lab
		s.size = append(s.size, make([]int64, n)...)
	}
	s.images++
	for j, v := range m {
		if mask != nil && mask[j] < 0.5 {
			continue
		}
		var region uint32
		if truth[j] >= 0.5 {
			s.pos++
			region = 1
			if labels != nil {
				if labels[j] <= 0 {
					s.err = fmt.Errorf("image %d: anomalous pixel %d lies in no labelled region", i, j)
					return s.err
				}
				region = uint32(base + int64(labels[j]))
				s.size[region-1]++
			}
		} else {
			s.neg++
		}
		s.buf = append(s.buf, uint64(^floatKey(v))<<32|uint64(region))
		if len(s.buf) >= s.chunk {
			if err := s.spill(); err != nil {
				s.err = err
				return err
			}
		}
	}
	return nil
}

// spill sorts the buffer and writes it as one run.
func (s *PixelStream) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.dir, "xraylab-pixels-*")
	if err != nil {
		return fmt.Errorf("pixel metrics: spill sorted pixels: %w", err)
	}
	os.Remove(f.Name()) // unlinked: the run lives as long as the handle
	s.runs = append(s.runs, f)
	w := bufio.NewWriterSize(f, 1<<20)
	var b [8]byte
	for _, k := range s.buf {
		binary.LittleEndian.PutUint64(b[:], k)
		if _, err := w.Write(b[:]); err != nil {
			return fmt.Errorf("pixel metrics: spill sorted pixels: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("pixel metrics: spill sorted pixels: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.buf = s.buf[:0]
	s.spilled = true
	return nil
}

// sortBuf sorts the whole key (value, then region), so the order of
// pixels within a value, and so every sum, is the same however the pixels
// were chunked.
func (s *PixelStream) sortBuf() {
	scratch := make([]uint64, len(s.buf))
	radixSort(s.buf, scratch, 0)
	radixSort(s.buf, scratch, 32)
}

// Close removes the spill files.
func (s *PixelStream) Close() error {
	var errs []error
	for _, f := range s.runs {
		errs = append(errs, f.Close())
	}
	s.runs, s.buf = nil, nil
	return errors.Join(errs...)
}

// PixelMetrics are a stream's figures. AUPRO is NaN for a stream without
// a Labeler.
type PixelMetrics struct {
	ROCAUC, AUPRO float64
	Images        int
	Pixels        int64 // in-mask pixels ranked
}

// Compute merges every pixel added and returns the pixel ROC-AUC and the
// AUPRO up to fprLimit (see AUPRO). Call it once, after the last Add.
func (s *PixelStream) Compute(fprLimit float64) (PixelMetrics, error) {
	r := PixelMetrics{Images: s.images, Pixels: s.neg + s.pos, AUPRO: math.NaN()}
	if s.err != nil {
		return r, s.err
	}
	if s.label != nil {
		if err := checkLimit(fprLimit); err != nil {
			return r, err
		}
	}
	if s.images == 0 {
		return r, invalidf("pixel metrics need at least one anomaly map")
	}
	if r.Pixels == 0 {
		return r, invalidf("no pixel lies inside the loss masks")
	}
	var nRegions int
	for _, n := range s.size {
		if n > 0 {
			nRegions++
		}
	}
	if s.pos == 0 || s.neg == 0 || (s.label != nil && nRegions == 0) {
		name := "pixel ROC-AUC"
		if s.label != nil {
			name = "AUPRO"
		}
		return r, invalidf("%s needs both classes inside the loss masks; got %d normal and %d anomalous pixels", name, s.neg, s.pos)
	}
	next, err := s.merged()
	if err != nil {
		return r, err
	}
	weight := make([]float64, len(s.size)+1) // PRO gained per pixel of a region
	for i, n := range s.size {
		if n > 0 {
			weight[i+1] = 1 / float64(n)
		}
	}
	// One pass from the highest value down. ROC-AUC by Mann-Whitney: a
	// value's positives beat every smaller negative and tie (one half)
	// with equal ones; twice the area is an exact integer. AUPRO: the
	// trapezoids of (FPR, PRO) between thresholds, as in MVTec AD.
	var twice, negAbove int64
	var area, fpr, pro, proSum float64
	proDone := s.label == nil
	k, ok, err := next()
	for ok {
		key := k >> 32
		var negG, posG int64
		for ok && k>>32 == key {
			if reg := uint32(k); reg == 0 {
				negG++
			} else {
				posG++
				if !proDone {
					proSum += weight[reg]
				}
			}
			if k, ok, err = next(); err != nil {
				return r, err
			}
		}
		twice += posG * (2*(s.neg-negAbove-negG) + negG)
		negAbove += negG
		if !proDone {
			f := math.Min(float64(negAbove)/float64(s.neg), 1)
			p := math.Min(proSum/float64(nRegions), 1)
			if f > fprLimit {
				r.AUPRO = (area + interpolated(fpr, pro, f, p, fprLimit)) / fprLimit
				proDone = true
			} else {
				area += 0.5 * (pro + p) * (f - fpr)
				fpr, pro = f, p
			}
		}
	}
	if err != nil {
		return r, err
	}
	if !proDone {
		// The curve ends at (1, 1).
		if fprLimit > fpr {
			area += interpolated(fpr, pro, 1, 1, fprLimit)
		}
		r.AUPRO = area / fprLimit
	}
	r.ROCAUC = float64(twice) / (2 * float64(s.pos) * float64(s.neg))
	return r, nil
}

// merged returns an iterator over every key in ascending order: the
// in-memory buffer alone, or a k-way merge of it with the spilled runs.
func (s *PixelStream) merged() (func() (uint64, bool, error), error) {
	s.sortBuf()
	if !s.spilled {
		i := 0
		return func() (uint64, bool, error) {
			if i == len(s.buf) {
				return 0, false, nil
			}
			i++
			return s.buf[i-1], true, nil
		}, nil
	}
	h := &runHeap{}
	for _, f := range s.runs {
		rd := &fileRun{r: bufio.NewReaderSize(f, 64<<10)}
		if err := rd.advance(); err != nil {
			return nil, err
		}
		if rd.ok {
			h.runs = append(h.runs, rd)
		}
	}
	if len(s.buf) > 0 {
		m := &memRun{keys: s.buf}
		m.advance()
		h.runs = append(h.runs, m)
	}
	heap.Init(h)
	return func() (uint64, bool, error) {
		if len(h.runs) == 0 {
			return 0, false, nil
		}
		top := h.runs[0]
		k := top.head()
		if err := top.advance(); err != nil {
			return 0, false, err
		}
		if top.valid() {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
		return k, true, nil
	}, nil
}

// sortedRun is one ascending run of keys being merged.
type sortedRun interface {
	head() uint64
	valid() bool
	advance() error
}

type fileRun struct {
	r   *bufio.Reader
	cur uint64
	ok  bool
	b   [8]byte
}

func (f *fileRun) head() uint64 { return f.cur }
func (f *fileRun) valid() bool  { return f.ok }
func (f *fileRun) advance() error {
	_, err := io.ReadFull(f.r, f.b[:])
	if err == io.EOF {
		f.ok = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("pixel metrics: read sorted pixels: %w", err)
	}
	f.cur, f.ok = binary.LittleEndian.Uint64(f.b[:]), true
	return nil
}

type memRun struct {
	keys []uint64
	i    int
	ok   bool
}

func (m *memRun) head() uint64 { return m.keys[m.i-1] }
func (m *memRun) valid() bool  { return m.ok }
func (m *memRun) advance() error {
	m.ok = m.i < len(m.keys)
	m.i++
	return nil
}

// runHeap orders the runs by their head key.
type runHeap struct{ runs []sortedRun }

func (h *runHeap) Len() int           { return len(h.runs) }
func (h *runHeap) Less(i, j int) bool { return h.runs[i].head() < h.runs[j].head() }
func (h *runHeap) Swap(i, j int)      { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap) Push(x any)         { h.runs = append(h.runs, x.(sortedRun)) }
func (h *runHeap) Pop() any {
	x := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return x
}
