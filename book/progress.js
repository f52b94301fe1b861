// The reader's exercise progress, shown when the poolbook runner serves this book.
//
// `cargo run` serves the book and answers /progress.json from the reader's copies and progress
// file (src/progress.rs). This script shows, on a chapter with an exercise, a badge with its
// status and the command to go on with, and ticks passing chapters in the table of contents.
// It asks again every two seconds, so the page follows `check` and `watch` as they run.
//
// A book served by anything else (GitHub Pages, `mdbook serve`) has no runner behind it: the
// script asks only a server on this machine's loopback address, and on any failure shows
// nothing and reports nothing.
(function () {
    "use strict";

    const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];
    const EVERY_MS = 2000;
    if (location.protocol !== "http:" || !LOOPBACK.includes(location.hostname)) {
        return;
    }
    // `path_to_root` is set by every page mdBook renders.
    const endpoint = path_to_root + "progress.json";
    const page = decodeURIComponent(location.pathname.split("/").pop() || "index.html");

    function badge(exercise) {
        let element = document.getElementById("poolbook-progress");
        if (!element) {
            const main = document.querySelector("#mdbook-content main");
            if (!main) {
                return;
            }
            element = document.createElement("aside");
            element.id = "poolbook-progress";
            element.setAttribute("role", "status");
            main.prepend(element);
        }
        element.dataset.status = exercise.status;
        element.replaceChildren();
        const label = document.createElement("strong");
        label.textContent = "Exercise " + exercise.number + ": " + exercise.label + ".";
        const command = document.createElement("code");
        command.textContent = exercise.command;
        element.append(label, " Go on with ", command);
    }

    function marks(exercises) {
        for (const exercise of exercises) {
            const links = document.querySelectorAll(
                '#mdbook-sidebar a[href$="' + CSS.escape(exercise.page) + '"]'
            );
            for (const link of links) {
                link.classList.toggle("poolbook-done", exercise.status === "passing");
            }
        }
    }

    async function refresh() {
        let report;
        try {
            const response = await fetch(endpoint, { cache: "no-store" });
            if (!response.ok) {
                return false;
            }
            report = await response.json();
        } catch (_) {
            // The runner stopped: keep what is shown, and try again later.
            return true;
        }
        const here = report.exercises.find((exercise) => exercise.page === page);
        if (here) {
            badge(here);
        }
        marks(report.exercises);
        return true;
    }

    refresh().then((served) => {
        // Anything but the runner (a 404 from another server) gets no second request.
        if (served) {
            setInterval(refresh, EVERY_MS);
        }
    });
})();
