package commitlog

import (
	"fmt"
	"os"
	"strconv"
)

const epochCheckpointFile = "leader-epoch-checkpoint"

// epochEntry says the leader of epoch started writing at startOffset.
type epochEntry struct {
	epoch       int32
	startOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache: entries with strictly increasing epochs
// and start offsets. It is not synchronised; Log.mu guards it.
type epochCache struct {
	entries []epochEntry
}

func (c *epochCache) latest() (epochEntry, bool) {
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// epochFor is the epoch whose leader wrote offset: the last entry starting at or
// before it, or -1 when offset precedes every entry.
func (c *epochCache) epochFor(offset int64) int32 {
	epoch := int32(-1)
	for _, e := range c.entries {
		if e.startOffset > offset {
			break
		}
		epoch = e.epoch
	}
	return epoch
}

// assign records that epoch starts at startOffset, as Kafka's assign: nothing happens
// unless the epoch is new or starts earlier than recorded; entries that would break
// monotonicity are dropped first. It reports whether the cache changed.
func (c *epochCache) assign(epoch int32, startOffset int64) bool {
	if epoch < 0 || startOffset < 0 {
		return false
	}
	if l, ok := c.latest(); ok && l.epoch == epoch && startOffset >= l.startOffset {
		return false
	}
	n := len(c.entries)
	for n > 0 && (c.entries[n-1].epoch >= epoch || c.entries[n-1].startOffset >= startOffset) {
		n--
	}
	c.entries = append(c.entries[:n], epochEntry{epoch: epoch, startOffset: startOffset})
	return true
}

// truncateFromEnd drops entries starting at or after endOffset (log truncation).
func (c *epochCache) truncateFromEnd(endOffset int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].startOffset >= endOffset {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart drops entries before startOffset but keeps the last of them,
// moved to startOffset, since its epoch still covers the first remaining records.
func (c *epochCache) truncateFromStart(startOffset int64) bool {
	i := 0
	for i < len(c.entries) && c.entries[i].startOffset <= startOffset {
		i++
	}
	if i == 0 {
		return false
	}
	keep := c.entries[i-1]
	if i == 1 && keep.startOffset == startOffset {
		return false
	}
	keep.startOffset = startOffset
	c.entries = append([]epochEntry{keep}, c.entries[i:]...)
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch exactly as Kafka's endOffsetFor: for the
// latest epoch the log end offset; otherwise the largest epoch <= requested and the
// start offset of the epoch after it; (-1, -1) when unknown.
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	if epoch < 0 {
		return -1, -1
	}
	if l, ok := c.latest(); ok && l.epoch == epoch {
		return epoch, leo
	}
	higher := -1
	for i, e := range c.entries {
		if e.epoch > epoch {
			higher = i
			break
		}
	}
	if higher < 0 {
		return -1, -1
	}
	if higher == 0 {
		// Older than anything known: the data of that epoch is gone; answering with
		// the first known start offset lets a follower replicate from there.
		return epoch, c.entries[0].startOffset
	}
	return c.entries[higher-1].epoch, c.entries[higher].startOffset
}

func (c *epochCache) encode() []byte {
	lines := make([]string, len(c.entries))
	for i, e := range c.entries {
		lines[i] = fmt.Sprintf("%d %d", e.epoch, e.startOffset)
	}
	return formatCheckpoint(lines)
}

// readEpochCheckpoint loads a leader-epoch-checkpoint file; a missing file is empty.
func readEpochCheckpoint(path string) (epochCache, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return epochCache{}, nil
	}
	if err != nil {
		return epochCache{}, err
	}
	fields, err := parseCheckpoint(data, 2)
	if err != nil {
		return epochCache{}, err
	}
	var c epochCache
	for _, f := range fields {
		ep, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || ep < 0 || off < 0 {
			return epochCache{}, fmt.Errorf("commitlog: leader epoch entry %q %q", f[0], f[1])
		}
		if l, ok := c.latest(); ok && (int32(ep) <= l.epoch || off < l.startOffset) {
			return epochCache{}, fmt.Errorf("commitlog: leader epoch entries not increasing at %d %d", ep, off)
		}
		c.entries = append(c.entries, epochEntry{epoch: int32(ep), startOffset: off})
	}
	return c, nil
}
