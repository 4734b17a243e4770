package broker

import (
	"context"
	"sync"
)

// producerIDBlock is how many producer ids are reserved from the metadata at a time,
// so that InitProducerId rarely writes metadata.
const producerIDBlock = 1000

// producerIDs hands out producer ids from blocks reserved in the metadata, so an id is
// never issued twice, across restarts too.
type producerIDs struct {
	b *Broker

	mu        sync.Mutex // guards next and end
	next, end int64
}

func (p *producerIDs) allocate(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, n := int64(0), int64(producerIDBlock)
		var err error
		if p.b.cluster != nil {
			first, n, err = p.b.cluster.allocateProducerIDs(ctx)
		} else {
			first, err = p.b.ctl.AllocateProducerIDs(ctx, producerIDBlock)
		}
		if err != nil {
			return 0, err
		}
		p.next, p.end = first, first+n
	}
	id := p.next
	p.next++
	return id, nil
}
