// HealthOps page behaviour. Kept tiny: the server renders everything; htmx does the requests.

// Leave empty filters out of list requests, so a filtered list has a short address worth sharing.
// A field marked data-keep-empty means something when empty (e.g. "From" cleared = include the past).
document.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt;
  if (event.detail.verb !== "get" || !form.matches || !form.matches("form.filters")) return;
  const data = event.detail.formData;
  for (const [key, value] of Array.from(data.entries())) {
    if (value === "" && !form.querySelector(`[name="${key}"][data-keep-empty]`)) data.delete(key);
  }
});
