package bench

import "github.com/jwtguard/jwtguard/middleware"

// jwtguardOptions is the hook for jwtguard's verified-token cache (on by
// default in the core since "middleware: a verified-token cache, on by
// default"): off for the "jwtguard" contender, so that every request checks
// the signature, and on, with the library's default bounds, for
// "jwtguard-cache". The benchmark repeats one token, so "jwtguard-cache"
// measures the hit path (100% hits after the first request).
func jwtguardOptions(cacheOn bool) []middleware.Option {
	if cacheOn {
		return []middleware.Option{middleware.WithTokenCache(middleware.DefaultTokenCacheEntries, middleware.DefaultTokenCacheBytes)}
	}
	return []middleware.Option{middleware.WithoutTokenCache()}
}
