// unyo dashboard: the little script the pages need (no inline scripts: CSP).
document.addEventListener("change", (event) => {
  const box = event.target;
  if (box instanceof HTMLInputElement && box.id === "select-all") {
    for (const item of document.querySelectorAll('input[name="numbers"]')) {
      item.checked = box.checked;
    }
  }
});

// The recipient form: a postal code fills in the prefecture and the city (Japan Post
// data on the server, /postal/<code>); what is typed in them already is replaced.
document.addEventListener("change", async (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.hasAttribute("data-postal")) return;
  const form = input.closest("form[data-postal-lookup]");
  const digits = input.value.normalize("NFKC").replace(/[^0-9]/g, "");
  if (!form || digits.length !== 7) return;
  const answer = await fetch("/postal/" + digits, { headers: { Accept: "application/json" } });
  if (!answer.ok) return;
  const found = await answer.json();
  form.querySelector('input[name="prefecture"]').value = found.prefecture;
  form.querySelector('input[name="city"]').value = found.city;
  const street = form.querySelector('input[name="sub_address"]');
  if (found.town && !street.value.trim()) street.value = found.town;
  form.setAttribute("data-postal-filled", digits);
});
