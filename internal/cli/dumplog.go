package cli

import (
	"context"
	"errors"
)

func runDumpLog(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
