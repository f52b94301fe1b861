//! Serving a folder of static files with the workbook's own server.
//!
//! The book is served by the most advanced server stage the workbook has, so every chapter the
//! reader finishes is also the server they read the next one through.

use std::io;
use std::net::TcpListener;
use std::path::Path;

use poolbook_http::listener::{Incoming, StopHandle, stoppable};
use poolbook_http::static_files::StaticFiles;

use crate::exercise::Workbook;
use crate::progress;

// The server stage that serves the book. When a later chapter's stage exists, point this line at
// it: a stage is any crate with `serve(incoming, handler)` that returns when `incoming` ends.
use ch24_shedding as stage;

/// A static-file server on a listener, ready to run and stoppable from another thread.
pub struct Server<'l> {
    incoming: Incoming<'l>,
    stop: StopHandle,
    files: StaticFiles,
    progress: Option<Workbook>,
}

impl<'l> Server<'l> {
    /// Prepares to serve the files below `root` on `listener`.
    ///
    /// Nothing is accepted until [`Server::run`]; connections that arrive before then wait in
    /// the listener's queue.
    ///
    /// # Errors
    ///
    /// If `root` does not exist, or the listener's address cannot be read.
    pub fn new(listener: &'l TcpListener, root: &Path) -> io::Result<Server<'l>> {
        let files = StaticFiles::new(root).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot serve {}: {e}", root.display()))
        })?;
        let (incoming, stop) = stoppable(listener)?;
        Ok(Server {
            incoming,
            stop,
            files,
            progress: None,
        })
    }

    /// Also answers [`progress::PATH`] with the progress of `workbook`'s exercises, which the
    /// book's pages show.
    pub fn with_progress(mut self, workbook: Workbook) -> Server<'l> {
        self.progress = Some(workbook);
        self
    }

    /// A handle that ends [`Server::run`] from any thread, such as a signal handler's.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The folder being served, fully resolved.
    pub fn root(&self) -> &Path {
        self.files.root()
    }

    /// Serves requests until [`StopHandle::stop`] is called.
    ///
    /// Connections accepted before the stop are still answered before this returns.
    ///
    /// # Errors
    ///
    /// If the stage's thread pool cannot be started.
    pub fn run(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let files = self.files;
        let workbook = self.progress;
        stage::serve(self.incoming, move |request| match &workbook {
            Some(workbook) if request.path() == progress::PATH => {
                progress::respond(workbook, request)
            }
            _ => files.handle(request),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::thread;

    #[test]
    fn serves_a_folder_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("index.html"), "<p>hi</p>").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(&listener, dir.path()).unwrap();
        let stop = server.stop_handle();
        // Stop before asserting: a failed assertion inside the scope would wait for the server
        // thread forever.
        let (index, outside, stopped) = thread::scope(|scope| {
            scope.spawn(|| server.run().expect("the pool starts"));
            let index = poolbook_testkit::get(addr, "/");
            let outside = poolbook_testkit::get(addr, "/../x");
            (index, outside, stop.stop())
        });
        stopped.unwrap();
        let index = index.unwrap();
        assert_eq!(index.status, 200);
        assert_eq!(index.text(), "<p>hi</p>");
        assert_eq!(outside.unwrap().status, 400);
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = Server::new(&listener, &missing).err().unwrap();
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
