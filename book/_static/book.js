// Runs in <head>, after the theme's inline script has read the reader's saved colour mode and
// before the theme's own script checks it: with nothing saved the mode is "", which the theme
// reports as an error; "auto" (follow the system setting) is what it means.
if (!document.documentElement.dataset.mode) {
  document.documentElement.dataset.mode = "auto";
}
