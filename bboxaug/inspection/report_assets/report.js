// bboxaug report: the gallery's filters, keyboard navigation and larger view. Without script the page still shows
// every table, plot, finding and gallery image with its box list.
(() => {
  "use strict";
  const grid = document.getElementById("gallery-grid");
  const dialog = document.getElementById("viewer");
  if (!grid || !dialog) return;
  const tiles = Array.from(grid.querySelectorAll(".tile"));
  const classFilter = document.getElementById("class-filter");
  const splitFilter = document.getElementById("split-filter");
  const count = document.getElementById("gallery-count");
  let current = null;

  const visible = () => tiles.filter((tile) => !tile.hidden);

  function applyFilters() {
    const wanted = classFilter.value;
    const split = splitFilter.value;
    let shown = 0;
    for (const tile of tiles) {
      const show =
        (wanted === "" || tile.dataset.classes.includes(` ${wanted} `)) && (split === "" || tile.dataset.split === split);
      tile.hidden = !show;
      shown += show ? 1 : 0;
    }
    if (wanted === "") delete grid.dataset.focus;
    else grid.dataset.focus = wanted;
    count.textContent = `${shown} of ${tiles.length} images shown`;
  }

  function columns(list) {
    const top = list[0].offsetTop;
    const first = list.findIndex((tile) => tile.offsetTop !== top);
    return first < 0 ? list.length : first;
  }

  function open(tile) {
    current = tile;
    dialog.querySelector("#viewer-title").textContent = tile.dataset.key;
    dialog.querySelector(".view").replaceChildren(tile.querySelector(".pic").cloneNode(true));
    const boxes = tile.querySelector("table.boxes");
    dialog.querySelector(".boxlist").replaceChildren(...(boxes ? [boxes.cloneNode(true)] : []));
    if (!dialog.open) dialog.showModal();
  }

  grid.addEventListener("keydown", (event) => {
    const list = visible();
    const at = list.indexOf(document.activeElement);
    if (at < 0) return;
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(list), ArrowUp: -columns(list) };
    let next;
    if (event.key in steps) next = at + steps[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = list.length - 1;
    else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(list[at]);
      return;
    } else return;
    event.preventDefault();
    if (next >= 0 && next < list.length) list[next].focus();
  });

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".tile");
    if (tile && !event.target.closest("details")) open(tile);
  });

  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    event.preventDefault();
    const list = visible();
    const next = list.indexOf(current) + (event.key === "ArrowRight" ? 1 : -1);
    if (next >= 0 && next < list.length) open(list[next]);
  });

  dialog.addEventListener("close", () => {
    if (current) current.focus();
  });

  classFilter.addEventListener("change", applyFilters);
  splitFilter.addEventListener("change", applyFilters);
  document.getElementById("gallery-controls").hidden = false;
  applyFilters();
})();
