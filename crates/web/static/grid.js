// The grid report page (/grid/report): the 使用当前位置 button (the browser's
// geolocation) and the pick on the street's map fill lon/lat; only the chosen category's
// extra fields are shown. Without script the form still works (type lon/lat or an address).
(function () {
  var f = document.getElementById('report-form');
  if (!f) return;
  var lon = document.getElementById('lon'), lat = document.getElementById('lat');
  var st = document.getElementById('locate-status'), svg = f.querySelector('svg.grid-map');
  var d = svg ? svg.dataset : null;
  function mark() {
    if (!svg || lon.value === '' || lat.value === '') return;
    var m = document.getElementById('pick');
    if (!m) {
      m = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
      m.id = 'pick'; m.setAttribute('r', 8); m.setAttribute('fill', '#1d70b8');
      m.setAttribute('stroke', '#fff'); m.setAttribute('stroke-width', 3); svg.appendChild(m);
    }
    m.setAttribute('cx', +d.pad + (lon.value - d.lon0) * d.scale);
    m.setAttribute('cy', +d.pad + (d.lat1 - lat.value) * d.scale);
  }
  function set(x, y, how) {
    lon.value = x.toFixed(6); lat.value = y.toFixed(6);
    st.textContent = how + '：经度 ' + lon.value + '，纬度 ' + lat.value; mark();
  }
  var b = document.getElementById('locate');
  if (b && navigator.geolocation) {
    b.hidden = false;
    b.addEventListener('click', function () {
      st.textContent = '正在定位…';
      navigator.geolocation.getCurrentPosition(function (p) {
        set(p.coords.longitude, p.coords.latitude, '已定位');
      }, function () {
        st.textContent = '无法定位，请在地图上选点或填写地址';
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
  if (svg) {
    svg.addEventListener('click', function (ev) {
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      set(+d.lon0 + (p.x - d.pad) / d.scale, +d.lat1 - (p.y - d.pad) / d.scale, '已在地图上选点');
    });
    mark();
  }
  function attrs() {
    var c = f.querySelector('input[name=category_id]:checked');
    f.querySelectorAll('.grid-attrs').forEach(function (s) { s.hidden = !c || s.dataset.category !== c.value; });
  }
  f.addEventListener('change', function (e) { if (e.target.name === 'category_id') attrs(); });
  attrs();
})();
