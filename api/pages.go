package api

import (
	"github.com/connect-doctor/connect-doctor/scope"
)

// The admin page and its API live in package api/panel, mounted by Build.

func (s *Server) declaredScopes() scope.Set {
	set, _ := scope.ParseList(s.DescriptorInfo.Scopes)
	return set
}
