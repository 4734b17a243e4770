package cli

import (
	"context"
	"errors"
)

func runBrokerAPIVersions(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
