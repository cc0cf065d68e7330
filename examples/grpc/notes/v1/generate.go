// Package notesv1 is the generated Go code of notes.proto: the messages and
// the client and server of the Notes service (package
// jwtguard.examples.notes.v1), the example API of examples/grpc.
//
// The generated files are committed. To regenerate them, run
// `go generate ./...` in examples/grpc with protoc 3.21.12,
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.0 on PATH (the README
// says how to install each). The proto is named from the module root, so it
// registers as notes/v1/notes.proto.
package notesv1

//go:generate protoc -I ../.. --go_out=../.. --go_opt=paths=source_relative --go-grpc_out=../.. --go-grpc_opt=paths=source_relative notes/v1/notes.proto
