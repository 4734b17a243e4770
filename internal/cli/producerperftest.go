package cli

import (
	"context"
	"errors"
)

func runProducerPerfTest(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
