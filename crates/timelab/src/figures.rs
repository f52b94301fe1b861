//! The book's tables and plots, rendered from a sweep's data.
