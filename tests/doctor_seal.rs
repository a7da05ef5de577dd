//! `cloudboot doctor` and `cloudboot seal` on whole images: a clean image
//! gives no finding; doctor only reads; seal refuses the live root.

mod common;
mod doctor_common;

use doctor_common::{assert_clean, centos6, doctor, tree_state};

#[test]
fn a_clean_centos6_image_gives_no_finding_and_doctor_changes_nothing() {
    let m = centos6();
    let before = tree_state(m.root());
    assert_clean(&m, &[]);
    let (code, _) = doctor(&m, &[]);
    assert_eq!(code, 0);
    assert_eq!(tree_state(m.root()), before, "doctor changed the image");
}
