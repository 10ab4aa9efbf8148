//! Who is writing: the API layer runs each request inside [`ACTOR`]'s scope
//! (`<organization>/<key id>`), and every object written in that scope
//! records it in its `drey.io/modified-by` annotation. Reconcilers write
//! outside any request, so their status writes carry no actor.

/// The annotation that names the last writer.
pub const MODIFIED_BY: &str = "drey.io/modified-by";

tokio::task_local! {
    /// The caller of the request being served.
    pub static ACTOR: String;
}

/// The actor of the current request, if any.
pub fn current() -> Option<String> {
    ACTOR.try_with(Clone::clone).ok()
}
