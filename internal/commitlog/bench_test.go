package commitlog

import (
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	for _, tc := range []struct {
		name     string
		flush    int64
		interval int // index.interval.bytes; 0 for the default
	}{
		{"pagecache", DefaultConfig().FlushMessages, 0},
		{"groupcommit", 1, 0},
		// An index entry for every batch: the append path's index work at its worst.
		{"pagecache-denseindex", DefaultConfig().FlushMessages, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := testConfig()
			cfg.FlushMessages = tc.flush
			if tc.interval > 0 {
				cfg.IndexIntervalBytes = tc.interval
			}
			l := openTestLog(b, b.TempDir(), cfg, Options{})
			defer l.Close()
			batch := makeBatch(batchSpec{n: 10, valueSize: 100})
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(batch, AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	l := openTestLog(b, b.TempDir(), testConfig(), Options{})
	defer l.Close()
	batch := makeBatch(batchSpec{n: 10, valueSize: 100})
	for i := 0; i < 10000; i++ {
		mustAppend(b, l, batch, AppendOptions{})
	}
	leo := l.LogEndOffset()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := l.Read(int64(i*7919)%leo, 64<<10, leo, true)
		if err != nil || len(res.Records) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	es := make([]offsetEntry, 1<<18)
	for i := range es {
		es[i] = offsetEntry{rel: int32(i * 10), pos: int32(i * 4096)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lookupOffset(es, int64(i*7919)%(10<<18))
	}
}
