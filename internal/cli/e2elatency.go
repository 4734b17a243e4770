package cli

import (
	"context"
	"errors"
)

func runE2ELatency(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
