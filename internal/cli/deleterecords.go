package cli

import (
	"context"
	"errors"
)

func runDeleteRecords(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
