package cli

import (
	"context"
	"errors"
)

func runGetOffsets(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
