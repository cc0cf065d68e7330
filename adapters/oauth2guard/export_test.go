package oauth2guard

// NoncesHeld is how many servers' nonces k holds, for the bound's test.
func NoncesHeld(k *DPoPKey) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.nonces)
}
