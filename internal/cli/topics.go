package cli

import (
	"context"
	"errors"
)

func runTopics(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
