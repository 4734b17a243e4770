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
		first, err := p.b.ctl.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.next, p.end = first, first+producerIDBlock
	}
	id := p.next
	p.next++
	return id, nil
}
