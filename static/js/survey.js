// Progressive enhancement for survey pages: hide a question whose show_if condition is not
// met by the answers on this page. Without JavaScript every question shows with a note, and
// the server ignores answers to hidden questions anyway.
(function () {
  var conditional = document.querySelectorAll("[data-show-if-key]");
  if (!conditional.length) return;
  function chosen(name) {
    var inputs = document.querySelectorAll('input[name="' + name + '"]');
    if (!inputs.length) return null; // the controlling question is on another page
    var values = [];
    inputs.forEach(function (el) { if (el.checked) values.push(el.value); });
    return values;
  }
  function update() {
    conditional.forEach(function (block) {
      var values = chosen(block.getAttribute("data-show-if-key"));
      if (values === null) return;
      var show = values.indexOf(block.getAttribute("data-show-if-equals")) !== -1;
      block.hidden = !show;
      var note = block.querySelector(".condition");
      if (note) note.hidden = true;
    });
  }
  document.addEventListener("change", update);
  update();
})();
