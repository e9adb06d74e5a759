// ota1: three-stage fully differential OTA, nested Miller compensation (like OTA1 of the
// paper's Table I). 1.2 V supply, 40-65 nm core devices (models: magical_prune/refflow/models.lib).
//   stage 1: telescopic cascode, NMOS low-Vt input pair M1/M2, tail M0; the PMOS loads M7/M8
//            take their gate from the midpoint of R1/R2 across the stage outputs (resistive CMFB)
//   stage 2: PMOS common source M9/M10, NMOS loads M11/M12 biased by R3/R4 (resistive CMFB)
//   stage 3: NMOS common source M13/M14, PMOS loads M15/M16 driven by the CMFB amplifier
//   compensation: outer Miller C1/C2 (output -> opposite stage-1 output), inner Miller C3/C4
//   CMFB: output CM sensed by R5/R6, NMOS pair M17/M18 against VCM, diode loads M20/M21, tail M19
//   bias: IBIAS into M22 (VBN); M23/M24 -> vbp; M25/M26 -> vbn2 (NMOS cascode); M27/M28 -> vbp2
subckt ota1 INP INM OUTP OUTM VCM IBIAS VDD VSS
M0 (tail IBIAS VSS VSS) nch l=1u w=20u m=2 nf=10
M1 (n1m INP tail VSS) nch_lvt l=0.5u w=32u m=1 nf=16
M2 (n1p INM tail VSS) nch_lvt l=0.5u w=32u m=1 nf=16
M3 (x1m vbn2 n1m VSS) nch l=0.2u w=16u m=1 nf=8
M4 (x1p vbn2 n1p VSS) nch l=0.2u w=16u m=1 nf=8
M5 (x1m vbp2 p1m VDD) pch l=0.2u w=24u m=1 nf=8
M6 (x1p vbp2 p1p VDD) pch l=0.2u w=24u m=1 nf=8
M7 (p1m cm1 VDD VDD) pch l=0.5u w=24u m=1 nf=12
M8 (p1p cm1 VDD VDD) pch l=0.5u w=24u m=1 nf=12
R1 (x1m cm1) poly_res l=11u w=0.4u segments=12
R2 (x1p cm1) poly_res l=11u w=0.4u segments=12
M9 (x2p x1m VDD VDD) pch l=0.5u w=24u m=2 nf=12
M10 (x2m x1p VDD VDD) pch l=0.5u w=24u m=2 nf=12
M11 (x2p cm2 VSS VSS) nch l=1u w=16u m=1 nf=8
M12 (x2m cm2 VSS VSS) nch l=1u w=16u m=1 nf=8
R3 (x2p cm2) poly_res l=8.5u w=0.4u segments=8
R4 (x2m cm2) poly_res l=8.5u w=0.4u segments=8
M13 (OUTM x2p VSS VSS) nch l=1u w=24u m=2 nf=12
M14 (OUTP x2m VSS VSS) nch l=1u w=24u m=2 nf=12
M15 (OUTM vcmfb VDD VDD) pch l=0.5u w=30u m=2 nf=10
M16 (OUTP vcmfb VDD VDD) pch l=0.5u w=30u m=2 nf=10
C1 (x1p OUTM) cfmom_2t nr=200 lr=30u w=70n s=70n stm=3 spm=6 multi=1
C2 (x1m OUTP) cfmom_2t nr=200 lr=30u w=70n s=70n stm=3 spm=6 multi=1
C3 (x2p OUTM) cfmom_2t nr=100 lr=30u w=70n s=70n stm=3 spm=6 multi=1
C4 (x2m OUTP) cfmom_2t nr=100 lr=30u w=70n s=70n stm=3 spm=6 multi=1
R5 (OUTP vcms) poly_res l=11u w=0.4u segments=12
R6 (OUTM vcms) poly_res l=11u w=0.4u segments=12
M17 (vcmfb VCM ctail VSS) nch l=0.5u w=8u m=1 nf=4
M18 (ncx vcms ctail VSS) nch l=0.5u w=8u m=1 nf=4
M19 (ctail IBIAS VSS VSS) nch l=1u w=16u m=1 nf=8
M20 (vcmfb vcmfb VDD VDD) pch l=0.5u w=4u m=1 nf=2
M21 (ncx ncx VDD VDD) pch l=0.5u w=4u m=1 nf=2
M22 (IBIAS IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M23 (vbp IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M24 (vbp vbp VDD VDD) pch l=1u w=8u m=1 nf=4
M25 (vbn2 vbp VDD VDD) pch l=1u w=8u m=1 nf=4
M26 (vbn2 vbn2 VSS VSS) nch l=2u w=1.5u m=1 nf=1
M27 (vbp2 IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M28 (vbp2 vbp2 VDD VDD) pch l=1u w=2u m=1 nf=1
ends ota1
