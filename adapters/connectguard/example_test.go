package connectguard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtguard/jwtguard/adapters/connectguard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

const deleteNote = "/acme.notes.v1.NotesService/DeleteNote"

func Example() {
	iss := jwkstest.NewIssuer() // stands in for your authorization server
	defer iss.Close()
	g, _ := middleware.New(iss.NewCache(), iss.URL(), []string{"https://api.example.com"})

	guard := connectguard.New(g,
		connectguard.WithProcedure(deleteNote, middleware.Scopes("notes:write")),
		connectguard.WithPublic("/grpc.health.v1.Health/Check"),
	)
	mux := http.NewServeMux()
	mux.Handle(deleteNote, connect.NewUnaryHandler(deleteNote, deleteHandler, connect.WithInterceptors(guard.Interceptor())))
	srv := httptest.NewUnstartedServer(guard.Wrap(mux))
	srv.EnableHTTP2 = true // gRPC needs HTTP/2
	srv.StartTLS()
	defer srv.Close()

	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv.Client(), srv.URL+deleteNote, connect.WithGRPC())
	for _, scope := range []string{"notes:read", "notes:write"} {
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("Authorization", "Bearer "+iss.Mint(jwkstest.WithScopes(scope)))
		if res, err := client.CallUnary(context.Background(), req); err != nil {
			fmt.Println(scope+":", err) // code and message; the ErrorInfo and challenges are in err too
		} else {
			fmt.Println(scope+":", res.Msg.GetValue())
		}
	}
	// Output:
	// notes:read: permission_denied: The access token does not grant the scope this resource requires
	// notes:write: deleted by user-123
}

func deleteHandler(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
	c, _ := claims.FromContext(ctx) // set by the guard
	return connect.NewResponse(wrapperspb.String("deleted by " + c.Subject)), nil
}
