// A submitted form is marked busy so a second click does not fire the hook twice.
document.addEventListener("submit", (event) => event.target.classList.add("busy"));
