// Progressive enhancement only: without this file every conditional question is shown
// under the answer it belongs to, with a hint, and the server discards an answer given
// when its condition is not met. With it, a conditional block is hidden until its
// option is chosen. (The design system's own reveal sets aria-expanded on radio
// buttons, which radios do not support, so this small script is used instead.)
const inputs = Array.from(document.querySelectorAll("input[data-hc-reveals]"));

function sync() {
  for (const input of inputs) {
    const target = document.getElementById(input.dataset.hcReveals);
    if (target) {
      target.hidden = !input.checked;
    }
  }
}

const forms = new Set(inputs.map((input) => input.form).filter(Boolean));
for (const form of forms) {
  form.addEventListener("change", sync);
}
window.addEventListener("pageshow", sync);
sync();
