//! The generated BuildKit API (see `proto/README.md`): LLB, the `Control` client, and the
//! session services salve serves back to the daemon. The modules nest as the protobuf packages
//! do, since the generated code names other packages by relative path.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// LLB: BuildKit's build graph.
pub mod pb {
    tonic::include_proto!("pb");
}

/// The `moby.*` packages.
pub mod moby {
    /// `moby.buildkit.*`.
    pub mod buildkit {
        /// BuildKit's control service.
        pub mod v1 {
            tonic::include_proto!("moby.buildkit.v1");
        }
    }
    /// `moby.filesync.*`.
    pub mod filesync {
        /// The session's file-send and credential services.
        pub mod v1 {
            tonic::include_proto!("moby.filesync.v1");
        }
    }
}

/// The `grpc.*` packages.
pub mod grpc {
    /// `grpc.health.*`.
    pub mod health {
        /// gRPC's health check.
        pub mod v1 {
            tonic::include_proto!("grpc.health.v1");
        }
    }
}

pub use grpc::health::v1 as health;
pub use moby::buildkit::v1 as control;
pub use moby::filesync::v1 as filesync;
