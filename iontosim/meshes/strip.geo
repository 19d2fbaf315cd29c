// A laterally uniform strip of the default scenario's skin (lidocaine_epinephrine): the 1D
// column as a 2D planar patch one cell wide, structured quadrilaterals with the column's cells.
// The reference mesh of tests/mesh/test_tagged_mesh.py: on it a run equals the 1D column whose
// layers have these cells and gradings (the column grades its donor pad 1/8 toward the skin).
//
// Units: micrometres (geometry.mesh_unit: um). Depth is y, positive into the skin, the skin
// surface at y = 0; the donor pad lies above it. Physical groups are named as iontosim's regions
// and boundaries (iontosim/mesh/tagged.py).

width = 100;  // um: any width gives the column's answer
// the stack, top first: the donor pad, then the skin layers; thickness [um], cells and grading
// (bottom cell over top cell)
thickness[] = {2000, 18, 57, 150, 850, 5000};
cells[] = {12, 12, 6, 6, 8, 12};
grading[] = {1/8, 1, 1, 1, 4, 20};

depth = -thickness[0];
For i In {0 : #thickness[] - 1}
  left[i] = newp; Point(left[i]) = {0, depth, 0};
  right[i] = newp; Point(right[i]) = {width, depth, 0};
  depth += thickness[i];
EndFor
n = #thickness[];
left[n] = newp; Point(left[n]) = {0, depth, 0};
right[n] = newp; Point(right[n]) = {width, depth, 0};

For i In {0 : n}
  across[i] = newl; Line(across[i]) = {left[i], right[i]};
  Transfinite Curve {across[i]} = 2;
EndFor
For i In {0 : n - 1}
  // a geometric progression from the top cell to the bottom one, as the column's graded layers
  ratio = (cells[i] > 1) ? grading[i]^(1 / (cells[i] - 1)) : 1;
  down_left[i] = newl; Line(down_left[i]) = {left[i], left[i + 1]};
  down_right[i] = newl; Line(down_right[i]) = {right[i], right[i + 1]};
  Transfinite Curve {down_left[i], down_right[i]} = cells[i] + 1 Using Progression ratio;
  loop = newcl; Curve Loop(loop) = {across[i], down_right[i], -across[i + 1], -down_left[i]};
  layer[i] = news; Plane Surface(layer[i]) = {loop};
  Transfinite Surface {layer[i]};
  Recombine Surface {layer[i]};
EndFor

Physical Surface("donor") = {layer[0]};
Physical Surface("stratum_corneum") = {layer[1]};
Physical Surface("viable_epidermis") = {layer[2]};
Physical Surface("papillary_dermis") = {layer[3]};
Physical Surface("reticular_dermis") = {layer[4]};
Physical Surface("hypodermis") = {layer[5]};
Physical Curve("anode") = {across[0]};
Physical Curve("deep") = {across[n]};
