package cli

import (
	"context"
	"errors"
)

func runConsoleConsumer(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
