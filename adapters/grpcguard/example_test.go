package grpcguard_test

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// A gRPC server whose AddNote needs notes:write, and whose health check
// needs no token.
func Example() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://notes.example.com"})
	if err != nil {
		panic(err)
	}
	guard := grpcguard.New(g,
		grpcguard.WithMethod("/notes.v1.Notes/AddNote", middleware.Scopes("notes:write")),
		grpcguard.WithPublic("/grpc.health.v1.Health/Check"))
	srv := grpc.NewServer(grpc.UnaryInterceptor(guard.Unary()), grpc.StreamInterceptor(guard.Stream()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	fmt.Println(len(srv.GetServiceInfo()))
	// Output: 1
}
