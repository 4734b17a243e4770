package raftquorum

import (
	"github.com/samsa-io/samsa/internal/metadata"
)

// Entry is the records of one applied log entry (one Propose). Offset is the offset of
// its first record in the metadata log's record numbering: the Image.Offset before it.
// Index is the entry's Raft log index.
type Entry struct {
	Offset  int64
	Index   uint64
	Records []metadata.Record
}

// tailRecords bounds how many records of the latest entries a quorum keeps in memory
// for RecordsSince. A follower further behind is sent the image instead.
const tailRecords = 20000

// rememberLocked adds the records of an applied entry to the tail, dropping the oldest
// entries beyond tailRecords. The caller holds mu.
func (q *Quorum) rememberLocked(e Entry) {
	q.tail = append(q.tail, e)
	q.tailLen += len(e.Records)
	drop := 0
	for q.tailLen > tailRecords && drop < len(q.tail)-1 {
		q.tailLen -= len(q.tail[drop].Records)
		drop++
	}
	if drop > 0 {
		// Copy rather than reslice, so the backing array does not grow without bound.
		q.tail = append([]Entry(nil), q.tail[drop:]...)
	}
}

// RecordsSince returns the entries applied after the first offset records, oldest
// first, with at least one entry and no more than about maxRecords records (a single
// larger entry is returned whole), and the current image. An offset at or past the image's is caught up: no
// entries, ok. ok is false when this node no longer holds the records from offset (or
// offset falls inside an entry): the caller needs the image instead.
//
// This is how a broker without the controller role follows the metadata: it is not a
// member of the Raft configuration, so it fetches the committed records from a
// controller (as a Kafka broker fetches the KRaft log).
func (q *Quorum) RecordsSince(offset int64, maxRecords int) (entries []Entry, img *metadata.Image, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	img = q.img.Load()
	if offset >= img.Offset {
		return nil, img, true
	}
	if offset < 0 {
		return nil, img, false
	}
	i := len(q.tail)
	for i > 0 && q.tail[i-1].Offset >= offset {
		i--
	}
	if i == len(q.tail) || q.tail[i].Offset != offset {
		return nil, img, false
	}
	n := 0
	for _, e := range q.tail[i:] {
		if len(entries) > 0 && n+len(e.Records) > maxRecords {
			break
		}
		entries = append(entries, e)
		n += len(e.Records)
	}
	return entries, img, true
}

// IndexAt returns the Raft index of the entry that ends at offset (the position of a
// follower that has applied the records before offset), when this node still holds it.
func (q *Quorum) IndexAt(offset int64) (uint64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := len(q.tail) - 1; i >= 0; i-- {
		e := q.tail[i]
		if end := e.Offset + int64(len(e.Records)); end == offset {
			return e.Index, true
		} else if end < offset {
			break
		}
	}
	return 0, false
}
