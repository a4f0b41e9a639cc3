package jirasim

import "github.com/connect-doctor/connect-doctor/scope"

// installForBench records an installation directly, without an app server
// (benchmarks only).
func (s *Sim) installForBench(appKey string, scopes ...scope.Scope) *Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &install{installed: true}
	in.AppKey, in.ClientKey, in.CloudID = appKey, s.clientKey, s.cloudID
	in.SharedSecret = s.randomString(64)
	in.Scopes = scopes
	in.Enabled = true
	in.BotAccountID = s.accountID()
	s.installs[appKey] = in
	s.ensureBotLocked(in)
	c := in.Installation
	return &c
}
