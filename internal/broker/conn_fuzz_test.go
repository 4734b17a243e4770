package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest feeds arbitrary frames to the request decoder: it must never panic,
// and a decoded request must be of the API and version its header names.
func FuzzDecodeRequest(f *testing.F) {
	apis := (&Broker{}).apiTable()
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	for _, a := range apis {
		for v := a.minVersion; v <= a.maxVersion; v++ {
			req := kmsg.RequestForKey(a.key.Int16())
			req.SetVersion(v)
			frame := formatter.AppendRequest(nil, req, 1)
			f.Add(frame[4:]) // without the size prefix, as readFrame hands it over
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, err := decodeRequest(apis, frame)
		if err != nil {
			return
		}
		if req.Key() != hdr.key || req.GetVersion() != hdr.version {
			t.Fatalf("decoded %d v%d for a header naming %d v%d", req.Key(), req.GetVersion(), hdr.key, hdr.version)
		}
		a := apis[kmsg.Key(hdr.key)]
		if hdr.version < a.minVersion || hdr.version > a.maxVersion {
			t.Fatalf("decoded version %d outside %d-%d", hdr.version, a.minVersion, a.maxVersion)
		}
	})
}
