//! `timelab sweep`: runs every measurement the book shows and writes its data.
