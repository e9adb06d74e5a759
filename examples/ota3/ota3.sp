// ota3: two-stage fully differential Miller OTA with CMFB (like OTA3 of the paper's Table I).
// 1.2 V supply, 40-65 nm core devices (models: magical_prune/refflow/models.lib).
//   stage 1: NMOS low-Vt input pair M1/M2, tail M0, PMOS loads M3/M4 driven by the CMFB
//   stage 2: PMOS common source M5/M6, NMOS current-source loads M7/M8
//   compensation: Miller capacitor CC1/CC2 with series nulling resistor RZ1/RZ2 per side
//   CMFB: output CM sensed by RS1/RS2 || CS1/CS2, NMOS pair M9/M10 against VCM, diode
//         loads M11/M12 (vcmfb drives the stage-1 loads), tail M13
//   bias: IBIAS into the diode M14 (stage-1 and CMFB tails); M15/M16 -> vbp, M17/M18 -> vbn
//         for the output-stage current sources
subckt ota3 INP INM OUTP OUTM VCM IBIAS VDD VSS
M0 (tail IBIAS VSS VSS) nch l=1u w=16u m=2 nf=8
M1 (o1m INP tail VSS) nch_lvt l=0.5u w=24u m=1 nf=12
M2 (o1p INM tail VSS) nch_lvt l=0.5u w=24u m=1 nf=12
M3 (o1m vcmfb VDD VDD) pch l=0.5u w=12u m=1 nf=6
M4 (o1p vcmfb VDD VDD) pch l=0.5u w=12u m=1 nf=6
M5 (OUTP o1m VDD VDD) pch l=0.5u w=30u m=2 nf=10
M6 (OUTM o1p VDD VDD) pch l=0.5u w=30u m=2 nf=10
M7 (OUTP vbn VSS VSS) nch l=1u w=20u m=2 nf=10
M8 (OUTM vbn VSS VSS) nch l=1u w=20u m=2 nf=10
RZ1 (o1m zm) poly_res l=2u w=1u segments=1
RZ2 (o1p zp) poly_res l=2u w=1u segments=1
CC1 (zm OUTP) cfmom_2t nr=200 lr=25u w=70n s=70n stm=3 spm=6 multi=1
CC2 (zp OUTM) cfmom_2t nr=200 lr=25u w=70n s=70n stm=3 spm=6 multi=1
RS1 (OUTP vcms) poly_res l=11u w=0.4u segments=12
RS2 (OUTM vcms) poly_res l=11u w=0.4u segments=12
CS1 (OUTP vcms) cfmom_2t nr=25 lr=20u w=70n s=70n stm=3 spm=6 multi=1
CS2 (OUTM vcms) cfmom_2t nr=25 lr=20u w=70n s=70n stm=3 spm=6 multi=1
M9 (vcmfb vcms ctail VSS) nch l=0.5u w=8u m=1 nf=4
M10 (cmx VCM ctail VSS) nch l=0.5u w=8u m=1 nf=4
M11 (vcmfb vcmfb VDD VDD) pch l=0.5u w=3u m=1 nf=2
M12 (cmx cmx VDD VDD) pch l=0.5u w=3u m=1 nf=2
M13 (ctail IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M14 (IBIAS IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M15 (vbp IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M16 (vbp vbp VDD VDD) pch l=1u w=12u m=1 nf=6
M17 (vbn vbp VDD VDD) pch l=1u w=12u m=1 nf=6
M18 (vbn vbn VSS VSS) nch l=1u w=8u m=1 nf=4
ends ota3
