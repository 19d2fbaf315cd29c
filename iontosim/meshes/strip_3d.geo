// strip.geo as a 3D block one hexahedron wide in x and in y (geometry.kind: block): the 1D
// column of the default scenario's skin (lidocaine_epinephrine) with its cells and gradings. The
// reference mesh of tests/mesh/test_tagged_mesh.py: on it a run equals the 1D column whose
// layers have these cells and gradings (the column grades its donor pad 1/8 toward the skin).
//
// Units: micrometres (geometry.mesh_unit: um). Depth is z, positive into the skin, the skin
// surface at z = 0; the donor pad lies above it. Physical groups are named as iontosim's regions
// and boundaries (iontosim/mesh/tagged.py).

width = 100;  // um: any width gives the column's answer
// the stack, top first: the donor pad, then the skin layers; thickness [um], cells and grading
// (bottom cell over top cell)
thickness[] = {2000, 18, 57, 150, 850, 5000};
cells[] = {12, 12, 6, 6, 8, 12};
grading[] = {1/8, 1, 1, 1, 4, 20};

depth = -thickness[0];
For i In {0 : #thickness[] - 1}
  left[i] = newp; Point(left[i]) = {0, 0, depth};
  right[i] = newp; Point(right[i]) = {width, 0, depth};
  depth += thickness[i];
EndFor
n = #thickness[];
left[n] = newp; Point(left[n]) = {0, 0, depth};
right[n] = newp; Point(right[n]) = {width, 0, depth};

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

// each layer's section swept across y, one hexahedron wide: gmsh lists the translated copy,
// the volume, then the faces swept from the section's curves in loop order (top, right, bottom,
// left)
For i In {0 : n - 1}
  swept[] = Extrude {0, width, 0} { Surface{layer[i]}; Layers{1}; Recombine; };
  volume[i] = swept[1];
  top_face[i] = swept[2];
  bottom_face[i] = swept[4];
EndFor

Physical Volume("donor") = {volume[0]};
Physical Volume("stratum_corneum") = {volume[1]};
Physical Volume("viable_epidermis") = {volume[2]};
Physical Volume("papillary_dermis") = {volume[3]};
Physical Volume("reticular_dermis") = {volume[4]};
Physical Volume("hypodermis") = {volume[5]};
Physical Surface("anode") = {top_face[0]};
Physical Surface("deep") = {bottom_face[n - 1]};
