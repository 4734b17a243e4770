package metadata

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzDecodeImage(f *testing.F) {
	img := NewImage()
	img, _ = img.Apply([]Record{
		{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "c"}},
		{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: 1}},
		brokerRec(1), brokerRec(2),
		topicRec("t", idA), partRec(idA, 0, 1, 2), partRec(idA, 1, 2),
		topicCfgRec("t", "k", ptr("v")),
		{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "1", Key: "k", Value: ptr("v")}},
	})
	valid, err := EncodeImage(img)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add([]byte("null"))
	f.Add([]byte(`{"format":1,"clusterId":"c","controllerId":1,"brokers":[],"topics":[{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAA","partitions":[]}]}`))
	f.Add([]byte(`{"format":1,"clusterId":"c","controllerId":1,"brokers":[{"id":1}],"topics":[{"name":"t","id":"AQIDAAAAAAAAAAAAAAAAAA","partitions":[{"id":0,"replicas":[1,1],"isr":[1],"leader":1}]}]}`))
	f.Add(append(bytes.Clone(valid), "{}"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same image.
		again, err := EncodeImage(img)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeImage(again)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, again)
		}
		if again2, _ := EncodeImage(back); !bytes.Equal(again, again2) {
			t.Fatalf("encoding not stable:\n%s\n%s", again, again2)
		}
	})
}
