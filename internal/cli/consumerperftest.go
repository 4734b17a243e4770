package cli

import (
	"context"
	"errors"
)

func runConsumerPerfTest(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
