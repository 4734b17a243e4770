package cli

import (
	"context"
	"errors"
)

func runConsoleProducer(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
