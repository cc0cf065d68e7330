package oauth2guard

import "time"

// NoncesHeld is how many servers' nonces k holds, for the bound's test.
func NoncesHeld(k *DPoPKey) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.nonces)
}

// SetClock makes c read the time from now, for the cooldown's tests.
func SetClock(c *ClientCredentials, now func() time.Time) { c.now = now }
