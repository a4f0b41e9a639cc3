package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/config"
)

func TestForgeSettings(t *testing.T) {
	load := func(m map[string]string) (*config.Config, error) {
		return config.Load(func(k string) string { return m[k] })
	}
	c, err := load(nil)
	if err != nil || c.ForgeEnabled {
		t.Fatalf("unset FORGE_APP_ID must leave Forge off: %+v %v", c, err)
	}
	c, err = load(map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_API_HOSTS": "api.atlassian.com,127.0.0.1:9443"})
	if err != nil || !c.ForgeEnabled || c.Forge.AppID != "8db33809-1f32-48bb-8c52-5877dab48107" || len(c.Forge.APIHosts) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad app id":       {map[string]string{"FORGE_APP_ID": "doctor"}, "FORGE_APP_ID"},
		"bad jwks url":     {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_JWKS_URL": "jwks.json"}, "FORGE_JWKS_URL"},
		"bad staging bool": {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_ALLOW_STAGING": "maybe"}, "FORGE_ALLOW_STAGING"},
		"bad environment":  {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_ALLOWED_ENVIRONMENTS": "PROD"}, "FORGE_ALLOWED_ENVIRONMENTS"},
		"bad api host":     {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_API_HOSTS": "https://api.atlassian.com"}, "FORGE_API_HOSTS"},
	} {
		_, err := load(tc.env)
		var ce *config.Error
		if !errors.Is(err, config.ErrInvalid) || !errors.As(err, &ce) || ce.Var != tc.want || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want the error to name %s)", name, err, tc.want)
		}
	}
}
