package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// The samsa binary is built on first use, so tests that need only the network do not
// wait for a build.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func samsaBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "clustertest-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "samsa")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/samsa").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("building samsa: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
