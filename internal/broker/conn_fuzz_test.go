package broker

import (
	"testing"
	"time"

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

// TestTagCountDoesNotSpin: a flexible request whose tagged-field count is 2^32-1 with
// nothing behind it is refused at once. Decoding used to loop over the count on an
// exhausted reader for about 40 seconds (kmsg is patched in third_party/kmsg); the
// 10-second bound leaves room for any machine and still fails that.
func TestTagCountDoesNotSpin(t *testing.T) {
	apis := (&Broker{}).apiTable()
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // uvarint 2^32-1
	frames := map[string][]byte{
		// ApiVersions v3, empty header tags, then an empty name and version and the count.
		"body tags": append([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 1}, huge...),
		// The same count as the request header's tags.
		"header tags": append([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff}, huge...),
	}
	for name, frame := range frames {
		done := make(chan error, 1)
		go func() {
			_, _, err := decodeRequest(apis, frame)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: a truncated request decoded", name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: decoding a 2^32-1 tag count with no tags still running after 10s", name)
		}
	}
}
