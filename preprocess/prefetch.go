package preprocess

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// BatchResult is one batch from Batches. Indices are item indices (a slice
// of the order given); Samples[k] belongs to Indices[k]. Err is set on the
// last batch sent when a sample failed to load or the arguments were wrong.
type BatchResult struct {
	Indices []int
	Samples []Sample
	Err     error
}

// batchFuture is a batch being loaded; done closes when every sample is in.
type batchFuture struct {
	res     BatchResult
	pending atomic.Int32
	errOnce sync.Once
	done    chan struct{}
}

func (f *batchFuture) finish(k int, s Sample, err error) {
	if err != nil {
		f.errOnce.Do(func() { f.res.Err = err })
	} else {
		f.res.Samples[k] = s
	}
	if f.pending.Add(-1) == 0 {
		close(f.done)
	}
}

// Batches loads samples in worker goroutines ahead of the consumer and
// delivers them in the given order, batchSize at a time (the last batch may
// be shorter). seeds[i] is the augmentation seed of order[i], so the result
// does not depend on the number of workers. At most Prefetch batches wait
// ready or in flight beyond the one being consumed. The channel is closed at
// the end, after a batch with Err, or when ctx is done.
func (p *Pipeline) Batches(ctx context.Context, items []Item, order []int, seeds []int64, batchSize int, augment string) <-chan BatchResult {
	out := make(chan BatchResult)
	if err := p.checkBatchArgs(items, order, seeds, batchSize, augment); err != nil {
		go func() {
			defer close(out)
			select {
			case out <- BatchResult{Err: err}:
			case <-ctx.Done():
			}
		}()
		return out
	}
	ctx, cancel := context.WithCancel(ctx)
	type job struct {
		f    *batchFuture
		k, i int
		seed int64
	}
	jobs := make(chan job, p.workers)
	futures := make(chan *batchFuture, p.prefetch)

	var wg sync.WaitGroup
	for w := 0; w < p.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					j.f.finish(j.k, Sample{}, ctx.Err())
					continue
				}
				s, err := p.Load(items[j.i], augment, j.seed)
				j.f.finish(j.k, s, err)
			}
		}()
	}
	// Producer: a future enters the bounded queue before its jobs are
	// issued, so at most Prefetch batches are worked on ahead.
	go func() {
		defer close(jobs)
		defer close(futures)
		for start := 0; start < len(order); start += batchSize {
			end := min(start+batchSize, len(order))
			f := &batchFuture{done: make(chan struct{})}
			f.res.Indices = append([]int(nil), order[start:end]...)
			f.res.Samples = make([]Sample, end-start)
			f.pending.Store(int32(end - start))
			select {
			case futures <- f:
			case <-ctx.Done():
				return
			}
			for k := start; k < end; k++ {
				select {
				case jobs <- job{f, k - start, order[k], seeds[k]}:
				case <-ctx.Done():
					// Account for the jobs never issued so done still closes.
					for r := k; r < end; r++ {
						f.finish(r-start, Sample{}, ctx.Err())
					}
					return
				}
			}
		}
	}()
	// Consumer side: hand batches over in order.
	go func() {
		defer close(out)
		defer func() { cancel(); wg.Wait() }()
		for f := range futures {
			select {
			case <-f.done:
			case <-ctx.Done():
				return
			}
			if f.res.Err != nil && ctx.Err() != nil {
				return
			}
			select {
			case out <- f.res:
			case <-ctx.Done():
				return
			}
			if f.res.Err != nil {
				return
			}
		}
	}()
	return out
}

func (p *Pipeline) checkBatchArgs(items []Item, order []int, seeds []int64, batchSize int, augment string) error {
	if err := validAugment(augment); err != nil {
		return err
	}
	if batchSize <= 0 {
		return fmt.Errorf("preprocess: batches: batch size %d must be positive", batchSize)
	}
	if len(seeds) != len(order) {
		return fmt.Errorf("preprocess: batches: %d seeds for %d order entries", len(seeds), len(order))
	}
	for k, i := range order {
		if i < 0 || i >= len(items) {
			return fmt.Errorf("preprocess: batches: order[%d] = %d is outside the %d items", k, i, len(items))
		}
	}
	return nil
}
