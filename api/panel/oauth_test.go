package panel

import (
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

func TestOAuthReachable(t *testing.T) {
	cat := catalog.Default()
	if n := oauthReachable(cat, nil); n != -1 {
		t.Fatalf("unknown scopes: %d", n)
	}
	anon := oauthReachable(cat, []string{})
	read := oauthReachable(cat, []string{"read:jira-work", "read:jira-user"})
	more := oauthReachable(cat, []string{"read:jira-work", "read:jira-user", "write:jira-work", "manage:jira-configuration"})
	if !(0 < anon && anon < read && read < more && more < cat.Len()) {
		t.Fatalf("counts not monotonic: anonymous %d, read %d, more %d of %d", anon, read, more, cat.Len())
	}
}
