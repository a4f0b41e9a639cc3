package forge_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func ExampleVerifier_Verify() {
	key := testKeys()[0]
	jwks := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"k0": key}) // stands in for Forge's CDN
	defer jwks.Close()

	now := func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	v, err := forge.NewVerifier(forge.Config{
		AppID:      "11111111-2222-3333-4444-555555555555", // a bare UUID is normalised to the ARI
		JWKSURL:    jwks.URL(),
		HTTPClient: jwks.Client(),
		Now:        now,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	forgeSide := &forgesim.Minter{Key: key, KID: "k0", Now: now}

	claims, err := v.Verify(context.Background(), forgeSide.MustMint())
	fmt.Println(claims.InstallationID(), claims.App.Environment.Type, err)

	_, err = v.Verify(context.Background(), forgeSide.MustMint(forgesim.WithClaim("app.environment.type", "DEVELOPMENT")))
	fmt.Println(forge.Code(err))
	// Output:
	// ari:cloud:ecosystem::installation/66666666-7777-8888-9999-000000000000 PRODUCTION <nil>
	// fit_dev_environment
}
