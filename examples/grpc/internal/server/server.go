// Package server is the Notes service of examples/grpc and the gRPC server
// around it: grpcguard's interceptors check every call's token, with each
// method's requirements, and the health service needs none. The command
// (examples/grpc) and the tests serve it; it holds no flags and no
// listener of its own.
package server

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/middleware"

	notesv1 "github.com/jwtguard/jwtguard/examples/grpc/notes/v1"
)

// The bounds of the service's state (notes.proto says them to clients).
const (
	// MaxNotes is how many notes the service holds: adding one more drops
	// the oldest.
	MaxNotes = 100
	// MaxTextBytes is the longest text a note may have.
	MaxTextBytes = 1024
	// MaxRecvMsgSize bounds a request message: an AddNoteRequest with the
	// longest text fits many times over.
	MaxRecvMsgSize = 16 << 10
)

// Rules are the guard's options for the Notes service: each method's
// requirements, on top of a valid token for the Guard's audience, like the
// HTTP examples' routes; the health service is public, and so is server
// reflection when reflect is set. adminAudience is the audience Stats
// requires instead (-admin-audience).
func Rules(adminAudience string, reflect bool) []grpcguard.Option {
	opts := []grpcguard.Option{
		grpcguard.WithMethod(notesv1.Notes_Me_FullMethodName),
		grpcguard.WithMethod(notesv1.Notes_ListNotes_FullMethodName, middleware.Scopes(exampleapp.ScopeNotesRead)),
		grpcguard.WithMethod(notesv1.Notes_AddNote_FullMethodName, middleware.Scopes(exampleapp.ScopeNotesWrite)),
		grpcguard.WithMethod(notesv1.Notes_Transfer_FullMethodName, exampleapp.TransferRules()...),
		grpcguard.WithMethod(notesv1.Notes_Stats_FullMethodName,
			middleware.Audience(adminAudience), middleware.Scopes(exampleapp.ScopeAdmin)),
		// A load balancer's or orchestrator's probe has no token.
		grpcguard.WithPublic(healthpb.Health_Check_FullMethodName, healthpb.Health_Watch_FullMethodName, healthpb.Health_List_FullMethodName),
	}
	if reflect {
		opts = append(opts, grpcguard.WithPublic(reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName,
			reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName))
	}
	return opts
}

// New returns the gRPC server: svc behind g with Rules(adminAudience,
// reflect), the health service, which reports the server and Notes
// SERVING until it is shut down, and with reflect the server reflection
// service, which lets tools such as grpcurl find the methods without the
// proto file (the command has it in dev mode only). A method the server
// does not have is Unimplemented, token or not: grpc-go answers it before
// any interceptor runs, and no handler is reached.
func New(g *middleware.Guard, adminAudience string, svc *Service, reflect bool, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	guard := grpcguard.New(g, Rules(adminAudience, reflect)...)
	opts = append([]grpc.ServerOption{
		grpc.UnaryInterceptor(guard.Unary()),
		grpc.StreamInterceptor(guard.Stream()),
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
	}, opts...)
	srv := grpc.NewServer(opts...)
	notesv1.RegisterNotesServer(srv, svc)
	hs := health.NewServer()
	hs.SetServingStatus(notesv1.Notes_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	if reflect {
		reflection.Register(srv)
	}
	return srv, hs
}

// Service implements Notes: the notes live in memory, at most MaxNotes of
// them. It is safe for concurrent use.
type Service struct {
	notesv1.UnimplementedNotesServer

	mu     sync.Mutex
	notes  []note // oldest first, at most MaxNotes
	lastID int64
	added  int64
}

// note is a held note; the service hands out copies, so a message it
// returns is the caller's.
type note struct {
	id           int64
	text, author string
}

func (n note) message() *notesv1.Note {
	return &notesv1.Note{Id: n.id, Text: n.text, Author: n.author}
}

// NewService returns a Service holding one note, as the HTTP examples
// start with.
func NewService() *Service {
	return &Service{notes: []note{{id: 1, text: "Access tokens are verified locally.", author: "jwtguard"}}, lastID: 1}
}

// caller is the verified token of the call: the guard let the call through
// only with one, so its absence is a wiring bug, not the client's fault.
func caller(ctx context.Context) (*claims.Claims, error) {
	c, ok := claims.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no verified token in the call's context")
	}
	return c, nil
}

// Me answers who the token says the caller is.
func (s *Service) Me(ctx context.Context, _ *notesv1.MeRequest) (*notesv1.MeResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return &notesv1.MeResponse{Iss: c.Issuer, Sub: c.Subject, ClientId: c.ClientID, Scopes: slices.Clone([]string(c.Scopes))}, nil
}

// ListNotes returns the notes held, oldest first.
func (s *Service) ListNotes(context.Context, *notesv1.ListNotesRequest) (*notesv1.ListNotesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*notesv1.Note, len(s.notes))
	for i, n := range s.notes {
		out[i] = n.message()
	}
	return &notesv1.ListNotesResponse{Notes: out}, nil
}

// AddNote adds a note by the token's subject, dropping the oldest once
// MaxNotes are held.
func (s *Service) AddNote(ctx context.Context, req *notesv1.AddNoteRequest) (*notesv1.AddNoteResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(req.GetText()) > MaxTextBytes {
		return nil, status.Errorf(codes.InvalidArgument, "a note's text is at most %d bytes", MaxTextBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	s.added++
	n := note{id: s.lastID, text: req.GetText(), author: c.Subject}
	if len(s.notes) == MaxNotes {
		// Shift in place: the backing array never grows past MaxNotes.
		copy(s.notes, s.notes[1:])
		s.notes = s.notes[:MaxNotes-1]
	}
	s.notes = append(s.notes, n)
	return &notesv1.AddNoteResponse{Note: n.message()}, nil
}

// Transfer accepts a transfer, once the guard has checked the scope and
// the step-up rules.
func (s *Service) Transfer(context.Context, *notesv1.TransferRequest) (*notesv1.TransferResponse, error) {
	return &notesv1.TransferResponse{Status: "accepted"}, nil
}

// Stats counts the notes.
func (s *Service) Stats(context.Context, *notesv1.StatsRequest) (*notesv1.StatsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &notesv1.StatsResponse{Notes: int64(len(s.notes)), Added: s.added}, nil
}
