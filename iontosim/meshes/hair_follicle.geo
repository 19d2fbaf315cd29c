// One vellus hair follicle with its sebaceous gland, in the unit cell of skin around it: an
// axisymmetric patch (geometry.kind: axisymmetric) that the built-in mesher cannot make, since
// its channels cross the stratum corneum only. x is the radius r from the follicle's axis, y the
// depth, positive into the skin, the skin surface at y = 0 and the donor pad above it.
// Units: micrometres (geometry.mesh_unit: um). Physical groups are named as iontosim's regions
// and boundaries (iontosim/mesh/tagged.py); the canal and the gland are separate groups, which a
// scenario maps to its appendages region (iontosim/scenarios/hair_follicle_2d.yaml).
//
// Dimensions (the bibliography is iontosim/library/sources.py):
// - cell radius 564 um: a disc of the skin area per follicle at 100 follicles/cm2
//   (PHARMSCI_APPENDAGES), R = 1 / sqrt(pi n). Derived.
// - canal radius 17.8 um: the follicles' 0.1 % of the skin surface (PHARMSCI_APPENDAGES) shared
//   by 100 per cm2, r = sqrt(0.001 / (pi n)). Derived; "diameters on the order of tens of
//   microns" (SCOTT1993_AC) agrees.
// - canal depth 300 um: an estimate. Vellus follicles "extend only to the upper reticular dermis"
//   (STATPEARLS_HAIR); 300 um is 75 um into the reticular dermis of this stack. No measured
//   human depth was found.
// - gland: an estimate, drawn only to give the mesh its shape. No measured human size or depth
//   was found. An ellipse 90 x 60 um across, centred 150 um deep and 40 um out from the
//   canal wall, joined to the canal; axisymmetric, it is a collar round the canal.
// - the layers: those of the default scenario (lidocaine_epinephrine), the donor pad 2 mm thick.

SetFactory("OpenCASCADE");

cell_radius = 564;
canal_radius = 17.8;
canal_depth = 300;
gland_centre_r = canal_radius + 40;
gland_centre_depth = 150;
gland_half_r = 45;
gland_half_depth = 30;
donor_thickness = 2000;
// the skin layers, top first: stratum corneum, viable epidermis, papillary dermis, reticular
// dermis, hypodermis [um]
thickness[] = {18, 57, 150, 850, 5000};
names_count = #thickness[];

// cell sizes [um]: fine in the stratum corneum and round the follicle, coarse far away. The far
// size is capped (Mesh.MeshSizeMax, which resolution does not scale) at a third of the cell's
// radius: at 400 um the far triangles were poorly shaped and the fitted flux's Newton stalled
// (benchmarks/RESULTS.md).
size_barrier = 3;
size_follicle = 4;
size_far = 200;

donor = news; Rectangle(donor) = {0, -donor_thickness, 0, cell_radius, donor_thickness};
top = 0;
For i In {0 : names_count - 1}
  layer[i] = news; Rectangle(layer[i]) = {0, top, 0, cell_radius, thickness[i]};
  bottom[i] = top + thickness[i];
  top = bottom[i];
EndFor
skin_depth = top;
canal = news; Rectangle(canal) = {0, 0, 0, canal_radius, canal_depth};
gland = news; Disk(gland) = {gland_centre_r, gland_centre_depth, 0, gland_half_r, gland_half_depth};

// cut everything at every interface; the follicle's pieces are then told apart by where they lie
pieces() = BooleanFragments{ Surface{donor, layer[]}; Delete; }{ Surface{canal, gland}; Delete; };
eps = 1e-3;
reach = gland_centre_r + gland_half_r;
canal_pieces() = Surface In BoundingBox{-eps, -eps, -eps, canal_radius + eps, canal_depth + eps, eps};
gland_pieces() = Surface In BoundingBox{gland_centre_r - gland_half_r - eps, gland_centre_depth - gland_half_depth - eps,
                                        -eps, reach + eps, gland_centre_depth + gland_half_depth + eps, eps};
gland_pieces() -= {canal_pieces()};  // where the two overlap is canal
Physical Surface("follicle_canal") = {canal_pieces()};
Physical Surface("sebaceous_gland") = {gland_pieces()};
Physical Surface("donor") = Surface In BoundingBox{-eps, -donor_thickness - eps, -eps, cell_radius + eps, eps, eps};

top = 0;
For i In {0 : names_count - 1}
  band() = Surface In BoundingBox{-eps, top - eps, -eps, cell_radius + eps, bottom[i] + eps, eps};
  band() -= {canal_pieces(), gland_pieces()};
  layer_pieces~{i}() = band();
  top = bottom[i];
EndFor
Physical Surface("stratum_corneum") = {layer_pieces~{0}()};
Physical Surface("viable_epidermis") = {layer_pieces~{1}()};
Physical Surface("papillary_dermis") = {layer_pieces~{2}()};
Physical Surface("reticular_dermis") = {layer_pieces~{3}()};
Physical Surface("hypodermis") = {layer_pieces~{4}()};
Physical Curve("anode") = Curve In BoundingBox{-eps, -donor_thickness - eps, -eps, cell_radius + eps,
                                               -donor_thickness + eps, eps};
Physical Curve("deep") = Curve In BoundingBox{-eps, skin_depth - eps, -eps, cell_radius + eps, skin_depth + eps, eps};

// sizes: a band over the stratum corneum, and a distance from the follicle's walls
Field[1] = Box;
Field[1].VIn = size_barrier;
Field[1].VOut = size_far;
Field[1].XMin = -1;
Field[1].XMax = cell_radius + 1;
Field[1].YMin = -size_barrier;
Field[1].YMax = thickness[0] + size_barrier;
Field[1].Thickness = 300;
walls() = Abs(Boundary{ Surface{canal_pieces(), gland_pieces()}; });
Field[2] = Distance;
Field[2].CurvesList = {walls()};
Field[2].Sampling = 200;
Field[3] = Threshold;
Field[3].InField = 2;
Field[3].SizeMin = size_follicle;
Field[3].SizeMax = size_far;
Field[3].DistMin = 10;
Field[3].DistMax = 600;
Field[4] = Min;
Field[4].FieldsList = {1, 3};
Background Field = 4;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
Mesh.MeshSizeMax = size_far;
